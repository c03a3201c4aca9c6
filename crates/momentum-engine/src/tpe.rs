//! The tree-structured Parzen estimator (TPE) that proposes a search's trials: Bergstra,
//! Bardenet, Bengio and Kégl, "Algorithms for Hyper-Parameter Optimization" (NeurIPS 2011), in
//! the multivariate form of Falkner, Klein and Hutter (BOHB, ICML 2018) with Optuna's defaults
//! (`optuna.samplers.TPESampler(multivariate=True)`) but for the bandwidths (below): the
//! observations are split into the best
//! `gamma(n) = min(ceil(n / 10), 25)` and the rest, each group is a mixture of product kernels
//! centred on its points plus a uniform prior, and of 24 points drawn from the good group's
//! mixture `l` the one with the largest `l(x) / g(x)` is proposed.
//!
//! The space is a product of integer ranges, handled as indices `0..m` per dimension. A kernel
//! is a Gaussian discretised onto the indices (the mass of `[i - 1/2, i + 1/2]`) and truncated to
//! the range, as Optuna handles a stepped integer distribution. Its bandwidth is set per point
//! and dimension as Optuna's independent TPE sets it (the larger gap to the point's neighbours,
//! clipped to `[m / min(100, n + 1), m]`), not by Scott's rule as Optuna's multivariate TPE
//! does: kernels narrow where good points crowd. Measured on the sample (`docs/performance.md`,
//! "TPE search against Optuna"), that found better combinations in the same trials on both
//! spaces than Scott's one bandwidth per dimension. Bandwidths are rounded to levels `2^(1/4)`
//! apart whose kernel tables are built once per search, so a density is table lookups.
//!
//! Everything is computed in one order on one thread from the seed's generator, so the
//! proposals depend on the history and the seed alone, never on the thread count. Densities are
//! kept as plain numbers, not logarithms: a kernel's far tail underflows to 0, but the prior
//! keeps every density above `1 / prod(m)`, so no ratio is `0 / 0`.

use crate::compare::SplitMix64;

/// Dimensions of a point: lookback, skip, holding, top_k.
pub(crate) const DIMS: usize = 4;

/// A point: an index into each dimension's values.
pub(crate) type Point = [u32; DIMS];

/// Points drawn from the good group's mixture per proposal (Optuna's `n_ei_candidates`).
const CANDIDATES: usize = 24;

/// Random draws tried before a rare usable point is found by counting instead.
const RANDOM_TRIES: usize = 256;

/// The proposer over a space of `sizes[d]` values per dimension.
#[derive(Debug, Clone)]
pub(crate) struct Tpe {
    sizes: [usize; DIMS],
    /// Per dimension, the kernels of every bandwidth level ([`Levels`]), built once.
    kernels: [Levels; DIMS],
}

/// The kernels of one dimension of `m` values at bandwidths `m / 100 * 2^(l / 4)` up to `m`
/// (the clips of [`point_bandwidths`]): a point's bandwidth is rounded to the nearest level, so
/// its kernel is a table lookup.
#[derive(Debug, Clone)]
struct Levels {
    /// The smallest bandwidth.
    lowest: f64,
    /// Per level: the masses by offset and their prefix sums ([`kernel`]).
    tables: Vec<(Vec<f64>, Vec<f64>)>,
}

/// Bandwidth levels per doubling.
const LEVELS_PER_DOUBLING: f64 = 4.0;

impl Levels {
    fn new(m: usize) -> Self {
        let lowest = as_f64(m) / 100.0;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "log2(100) * 4 levels"
        )]
        let count = (100f64.log2() * LEVELS_PER_DOUBLING).ceil() as usize + 1;
        let tables = (0..count)
            .map(|l| kernel(m, lowest * (as_f64(l) / LEVELS_PER_DOUBLING).exp2()))
            .collect();
        Self { lowest, tables }
    }

    /// The level nearest `sigma` (on a log scale).
    fn level(&self, sigma: f64) -> usize {
        let l = ((sigma / self.lowest).log2() * LEVELS_PER_DOUBLING).round();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to the levels"
        )]
        let l = l.clamp(0.0, as_f64(self.tables.len() - 1)) as usize;
        l
    }
}

/// One evaluated (or, within a batch, pending) trial: its point and objective value, higher
/// better (NaN ranks last).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Observation {
    pub(crate) point: Point,
    pub(crate) value: f64,
}

impl Observation {
    /// The value trials are ranked by: NaN as minus infinity.
    pub(crate) fn rank_value(&self) -> f64 {
        if self.value.is_nan() {
            f64::NEG_INFINITY
        } else {
            self.value
        }
    }
}

impl Tpe {
    /// A proposer over `sizes[d] >= 1` values per dimension.
    pub(crate) fn new(sizes: [usize; DIMS]) -> Self {
        Self {
            sizes,
            kernels: sizes.map(Levels::new),
        }
    }

    /// The next point to try after `history` (in trial order, pending trials included with a
    /// liar's value), drawn with `rng`: one for which `usable` holds (a valid combination not
    /// tried yet), uniformly `at_random` (the first trials) or by the estimator. `None` when no
    /// usable point is left.
    pub(crate) fn propose(
        &self,
        history: &[Observation],
        rng: &mut SplitMix64,
        usable: &dyn Fn(Point) -> bool,
        at_random: bool,
    ) -> Option<Point> {
        if !at_random && history.len() >= 2 {
            let (below, above) = self.split(history);
            let good = Parzen::new(&below, self);
            let bad = Parzen::new(&above, self);
            let mut best: Option<(f64, Point)> = None;
            for _ in 0..CANDIDATES {
                let point = good.sample(rng);
                if !usable(point) {
                    continue;
                }
                let score = good.density(point) / bad.density(point);
                if best.is_none_or(|(top, _)| score > top) {
                    best = Some((score, point));
                }
            }
            if let Some((_, point)) = best {
                return Some(point);
            }
        }
        self.random(rng, usable)
    }

    /// A uniformly random usable point: by rejection, or (when usable points are rare) by
    /// counting them and drawing one.
    fn random(&self, rng: &mut SplitMix64, usable: &dyn Fn(Point) -> bool) -> Option<Point> {
        for _ in 0..RANDOM_TRIES {
            let point = self.uniform(rng);
            if usable(point) {
                return Some(point);
            }
        }
        let count = self.points().filter(|&p| usable(p)).count();
        if count == 0 {
            return None;
        }
        let nth = rng.below(count);
        self.points().filter(|&p| usable(p)).nth(nth)
    }

    fn uniform(&self, rng: &mut SplitMix64) -> Point {
        let mut point = [0; DIMS];
        for (x, &m) in point.iter_mut().zip(&self.sizes) {
            *x = index(rng.below(m));
        }
        point
    }

    /// Every point, the last dimension fastest.
    fn points(&self) -> impl Iterator<Item = Point> + '_ {
        let total: usize = self.sizes.iter().product();
        (0..total).map(|mut flat| {
            let mut point = [0; DIMS];
            for d in (0..DIMS).rev() {
                point[d] = index(flat % self.sizes[d]);
                flat /= self.sizes[d];
            }
            point
        })
    }

    /// The best `gamma(n)` observations and the rest, each in trial order.
    fn split(&self, history: &[Observation]) -> (Vec<Point>, Vec<Point>) {
        let n = history.len();
        let good = n.div_ceil(10).clamp(1, 25);
        let mut order: Vec<usize> = (0..n).collect();
        // Stable: of equal values the earlier trial ranks first.
        order.sort_by(|&a, &b| history[b].rank_value().total_cmp(&history[a].rank_value()));
        let mut is_good = vec![false; n];
        for &i in &order[..good] {
            is_good[i] = true;
        }
        let (mut below, mut above) = (Vec::with_capacity(good), Vec::with_capacity(n - good));
        for (observation, good) in history.iter().zip(is_good) {
            if good {
                below.push(observation.point);
            } else {
                above.push(observation.point);
            }
        }
        (below, above)
    }
}

/// An index as a point coordinate (a dimension has far fewer than `2^32` values).
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// A mixture of product kernels centred on `points` and a uniform prior of weight 1.
struct Parzen<'a> {
    points: &'a [Point],
    tpe: &'a Tpe,
    /// Per component and dimension: its kernel's bandwidth level.
    levels: Vec<[usize; DIMS]>,
    /// Per component: its weight over the product of its kernels' normalisers.
    coefficients: Vec<f64>,
    /// The prior's density: its weight over the space's size.
    prior: f64,
    /// Cumulative component weights, the prior last: what a draw picks a component by.
    cumulative: Vec<f64>,
}

impl<'a> Parzen<'a> {
    fn new(points: &'a [Point], tpe: &'a Tpe) -> Self {
        let sizes = tpe.sizes;
        let n = points.len();
        // Optuna's `default_weights`: the 25 latest observations weigh 1, older ones ramp up
        // from 1 / n.
        let weights: Vec<f64> = (0..n)
            .map(|i| {
                let ramp = n.saturating_sub(25);
                if i >= ramp || ramp < 2 {
                    1.0
                } else {
                    let (first, i, last) = (1.0 / as_f64(n), as_f64(i), as_f64(ramp - 1));
                    first + (1.0 - first) * i / last
                }
            })
            .collect();
        let mut levels = vec![[0; DIMS]; n];
        for d in 0..DIMS {
            let values: Vec<u32> = points.iter().map(|p| p[d]).collect();
            for (level, sigma) in levels.iter_mut().zip(point_bandwidths(&values, sizes[d])) {
                level[d] = tpe.kernels[d].level(sigma);
            }
        }
        let coefficients: Vec<f64> = points
            .iter()
            .zip(&levels)
            .zip(&weights)
            .map(|((point, level), w)| {
                let mut c = *w;
                for d in 0..DIMS {
                    let (m, mu) = (sizes[d], point[d] as usize);
                    let (_, prefix) = &tpe.kernels[d].tables[level[d]];
                    // The kernel's mass on the range: offsets -mu ..= m - 1 - mu.
                    c /= prefix[2 * m - 1 - mu] - prefix[m - 1 - mu];
                }
                c
            })
            .collect();
        let space: f64 = sizes.iter().map(|&m| as_f64(m)).product();
        let mut cumulative = Vec::with_capacity(n + 1);
        let mut sum = 0.0;
        for w in weights.iter().chain([&1.0]) {
            sum += w;
            cumulative.push(sum);
        }
        Self {
            points,
            tpe,
            levels,
            coefficients,
            prior: 1.0 / space,
            cumulative,
        }
    }

    /// The mixture's density at `x` (up to the common factor of its total weight).
    fn density(&self, x: Point) -> f64 {
        let mut sum = self.prior;
        for ((point, level), &c) in self.points.iter().zip(&self.levels).zip(&self.coefficients) {
            let mut product = c;
            for d in 0..DIMS {
                let m = self.tpe.sizes[d];
                let (mass, _) = &self.tpe.kernels[d].tables[level[d]];
                product *= mass[x[d] as usize + m - 1 - point[d] as usize];
            }
            sum += product;
        }
        sum
    }

    /// A point drawn from the mixture.
    fn sample(&self, rng: &mut SplitMix64) -> Point {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u = rng.uniform() * total;
        let component = self.cumulative.partition_point(|&c| c <= u);
        let mut point = [0; DIMS];
        for (d, x) in point.iter_mut().enumerate() {
            let m = self.tpe.sizes[d];
            *x = match self.points.get(component) {
                None => index(rng.below(m)),
                Some(centre) => {
                    let level = self.levels[component][d];
                    let (_, prefix) = &self.tpe.kernels[d].tables[level];
                    let mu = centre[d] as usize;
                    // Mass of the indices up to `i`: prefix[i - mu + m] - prefix[m - 1 - mu].
                    let base = prefix[m - 1 - mu];
                    let target = base + rng.uniform() * (prefix[2 * m - 1 - mu] - base);
                    // The first index whose mass up to it exceeds the target.
                    let (mut lo, mut hi) = (0, m - 1);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if prefix[mid + m - mu] <= target {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    index(lo)
                }
            };
        }
        point
    }
}

/// Each point's bandwidth in one dimension of `m` values, as Optuna's independent TPE sets it:
/// the larger of the gaps to its neighbours among the sorted values, the range's ends
/// (`-1/2` and `m - 1/2`) counting as neighbours except for the outermost points (their inner
/// gap), clipped to `[m / min(100, n + 1), m]` (Optuna's "magic clip"). Where the good points
/// crowd, their kernels narrow.
fn point_bandwidths(values: &[u32], m: usize) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| values[i]);
    let at = |k: usize| f64::from(values[order[k]]);
    let (low, high) = (-0.5, as_f64(m) - 0.5);
    let range = as_f64(m);
    let (floor, ceiling) = (range / as_f64((n + 1).min(100)), range);
    let mut sigmas = vec![0.0; n];
    for k in 0..n {
        let before = if k == 0 { low } else { at(k - 1) };
        let after = if k + 1 == n { high } else { at(k + 1) };
        let mut sigma = (at(k) - before).max(after - at(k));
        if n >= 2 && k == 0 {
            sigma = at(1) - at(0);
        } else if n >= 2 && k + 1 == n {
            sigma = at(k) - at(k - 1);
        }
        sigmas[order[k]] = sigma.clamp(floor, ceiling);
    }
    sigmas
}

fn as_f64(n: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let x = n as f64;
    x
}

/// A Gaussian of standard deviation `sigma` discretised onto integer offsets
/// `-(m - 1)..=(m - 1)`: the mass of `[delta - 1/2, delta + 1/2]` at `delta + m - 1`, with its
/// prefix sums. Tail masses are differences of `erfc`, not of the CDF, so they keep their
/// precision far out.
fn kernel(m: usize, sigma: f64) -> (Vec<f64>, Vec<f64>) {
    let scale = sigma * std::f64::consts::SQRT_2;
    let upper = |x: f64| 0.5 * statrs::function::erf::erfc(x / scale);
    let mass: Vec<f64> = (0..2 * m - 1)
        .map(|j| {
            let delta = as_f64(j.abs_diff(m - 1));
            if delta == 0.0 {
                1.0 - 2.0 * upper(0.5)
            } else {
                upper(delta - 0.5) - upper(delta + 0.5)
            }
        })
        .collect();
    let mut prefix = Vec::with_capacity(mass.len() + 1);
    let mut sum = 0.0;
    prefix.push(0.0);
    for &k in &mass {
        sum += k;
        prefix.push(sum);
    }
    (mass, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_discretised_kernel_matches_the_normal_distribution() {
        // N(0, 1): P(|X| <= 0.5) = 0.382924922548026, P(0.5 <= X <= 1.5) = 0.241730337457129
        // (tables of the standard normal, Abramowitz and Stegun 26.2), to statrs's `erfc`'s
        // accuracy (a few 1e-12 here).
        let (mass, prefix) = kernel(3, 1.0);
        assert!((mass[2] - 0.382_924_922_548_026).abs() < 1e-11);
        assert!((mass[1] - 0.241_730_337_457_129).abs() < 1e-11);
        assert!((mass[3] - mass[1]).abs() < 1e-15);
        assert_eq!(prefix.len(), 6);
        assert!((prefix[5] - mass.iter().sum::<f64>()).abs() < 1e-15);
    }

    #[test]
    fn a_point_is_as_wide_as_its_larger_gap() {
        // Values 10, 12, 30 of 101: the inner one's gaps are 2 and 18; the outer ones take their
        // inner gap (2 and 18); the clip is 101 / 4.
        let sigmas = point_bandwidths(&[30, 10, 12], 101);
        assert_eq!(sigmas, [25.25, 25.25, 25.25]);
        // Ten points: the clip is 101 / 11 = 9.18; 50 to 59 crowd, 0 and 100 stand apart.
        let values = [0, 50, 51, 52, 53, 54, 55, 56, 57, 100];
        let sigmas = point_bandwidths(&values, 101);
        assert!((sigmas[0] - 50.0).abs() < 1e-12);
        assert!((sigmas[1] - 50.0).abs() < 1e-12);
        assert!(
            sigmas[2..8]
                .iter()
                .all(|&s| (s - 101.0 / 11.0).abs() < 1e-12)
        );
        assert!((sigmas[9] - 43.0).abs() < 1e-12);
    }

    #[test]
    fn draws_from_a_mixture_concentrate_near_its_points() {
        let points = [[50, 0, 0, 0]];
        let tpe = Tpe::new([101, 1, 1, 1]);
        let parzen = Parzen::new(&points, &tpe);
        let mut rng = SplitMix64::new(7);
        let draws: Vec<u32> = (0..2000).map(|_| parzen.sample(&mut rng)[0]).collect();
        // Weight 1 on the point, 1 on the uniform prior. The point's kernel has bandwidth
        // 101 / 2 (one point: the clip), at its level 1.01 * 2^(23 / 4) = 54.3, and is truncated
        // to [-0.5, 100.5]: it puts (2 Phi(20.5 / 54.3) - 1) / (2 Phi(50.5 / 54.3) - 1) =
        // 0.2942 / 0.6477 = 0.4542 within 20 of 50, the prior 41 / 101 = 0.4059; together 0.4301
        // of 2,000 draws, 860 +- 3 sd (22 each).
        let near = draws.iter().filter(|&&x| x.abs_diff(50) <= 20).count();
        assert!((794..926).contains(&near), "{near}");
        // The density is highest at the point and symmetric about it.
        let at = |x| parzen.density([x, 0, 0, 0]);
        assert!(at(50) > at(40) && at(40) > at(20));
        assert!((at(40) - at(60)).abs() < 1e-15);
    }

    /// `trials` proposals one at a time from `seed` (the first `startup` at random), never a
    /// point twice, each told its `objective`.
    fn search(
        tpe: &Tpe,
        (seed, trials, startup): (u64, usize, usize),
        objective: impl Fn(Point) -> f64,
    ) -> Vec<Observation> {
        let mut rng = SplitMix64::new(seed);
        let mut history: Vec<Observation> = Vec::new();
        for _ in 0..trials {
            let tried: Vec<Point> = history.iter().map(|o| o.point).collect();
            let at_random = history.len() < startup;
            let point = tpe
                .propose(&history, &mut rng, &|p| !tried.contains(&p), at_random)
                .expect("points left");
            assert!(!tried.contains(&point));
            history.push(Observation {
                point,
                value: objective(point),
            });
        }
        history
    }

    #[test]
    fn proposals_avoid_unusable_points_and_run_out_with_the_space() {
        let tpe = Tpe::new([3, 2, 1, 1]);
        // All six points, each once (`search` checks), then none is left.
        let history = search(&tpe, (1, 6, 2), |p| f64::from(p[0]));
        let tried: Vec<Point> = history.iter().map(|o| o.point).collect();
        let mut rng = SplitMix64::new(2);
        assert_eq!(
            tpe.propose(&history, &mut rng, &|p| !tried.contains(&p), false),
            None
        );
    }

    #[test]
    fn the_estimator_finds_the_peak_of_a_smooth_objective() {
        // A peak at (70, 3) of 101 x 9 values: 60 trials find a point within 3 and 1 of it,
        // where random search finds one with probability about 1 - (1 - 21/909)^60 = 0.75.
        let tpe = Tpe::new([101, 9, 1, 1]);
        let history = search(&tpe, (3, 60, 10), |p| {
            let (x, y) = (f64::from(p[0]) - 70.0, f64::from(p[1]) - 3.0);
            -(x * x) / 100.0 - y * y
        });
        let best = history
            .iter()
            .max_by(|a, b| a.value.total_cmp(&b.value))
            .expect("trials");
        assert!(best.value >= -(3.0f64 * 3.0) / 100.0 - 1.0, "{best:?}");
    }
}
