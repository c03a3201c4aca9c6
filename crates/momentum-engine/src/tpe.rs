//! The tree-structured Parzen estimator (TPE) that proposes a search's trials: Bergstra,
//! Bardenet, Bengio and Kégl, "Algorithms for Hyper-Parameter Optimization" (NeurIPS 2011), in
//! the multivariate form of Falkner, Klein and Hutter (BOHB, ICML 2018) with Optuna's defaults
//! (`optuna.samplers.TPESampler(multivariate=True)`): the observations are split into the best
//! `gamma(n) = min(ceil(n / 10), 25)` and the rest, each group is a mixture of product kernels
//! centred on its points plus a uniform prior, and of 24 points drawn from the good group's
//! mixture `l` the one with the largest `l(x) / g(x)` is proposed.
//!
//! The space is a product of integer ranges, handled as indices `0..m` per dimension. A kernel
//! is a Gaussian discretised onto the indices (the mass of `[i - 1/2, i + 1/2]`) and truncated to
//! the range, as Optuna handles a stepped integer distribution; its bandwidth per dimension is
//! Scott's rule `0.2 n^(-1 / (d + 4)) m`, clipped below at `m / min(100, n + 1)`.
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
        Self { sizes }
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
            let good = Parzen::new(&below, self.sizes);
            let bad = Parzen::new(&above, self.sizes);
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
    sizes: [usize; DIMS],
    /// Per component: its weight over the product of its kernels' normalisers.
    coefficients: Vec<f64>,
    /// The prior's density: its weight over the space's size.
    prior: f64,
    /// Cumulative component weights, the prior last: what a draw picks a component by.
    cumulative: Vec<f64>,
    /// Per dimension: the kernel's mass at each offset `delta` in `-(m - 1)..=(m - 1)`, at
    /// `delta + m - 1`, and its prefix sums (`prefix[j]` the mass of the offsets before `j`).
    kernels: [(Vec<f64>, Vec<f64>); DIMS],
}

impl<'a> Parzen<'a> {
    fn new(points: &'a [Point], sizes: [usize; DIMS]) -> Self {
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
        let kernels = std::array::from_fn(|d| kernel(sizes[d], bandwidth(sizes[d], n)));
        let coefficients: Vec<f64> = points
            .iter()
            .zip(&weights)
            .map(|(point, w)| {
                let mut c = *w;
                for (d, (_, prefix)) in kernels.iter().enumerate() {
                    let m = sizes[d];
                    let mu = point[d] as usize;
                    // The kernel's mass on the range: offsets -mu ..= m - 1 - mu.
                    let total = prefix[2 * m - 1 - mu] - prefix[m - 1 - mu];
                    c /= total;
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
            sizes,
            coefficients,
            prior: 1.0 / space,
            cumulative,
            kernels,
        }
    }

    /// The mixture's density at `x` (up to the common factor of its total weight).
    fn density(&self, x: Point) -> f64 {
        let mut sum = self.prior;
        for (point, &c) in self.points.iter().zip(&self.coefficients) {
            let mut product = c;
            for d in 0..DIMS {
                let m = self.sizes[d];
                product *= self.kernels[d].0[x[d] as usize + m - 1 - point[d] as usize];
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
            let m = self.sizes[d];
            *x = match self.points.get(component) {
                None => index(rng.below(m)),
                Some(centre) => {
                    let (_, prefix) = &self.kernels[d];
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

fn as_f64(n: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let x = n as f64;
    x
}

/// Scott's rule for `n` points over `m` values in `DIMS` dimensions, clipped to
/// `[m / min(100, n + 1), m]`.
fn bandwidth(m: usize, n: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a small constant")]
    let exponent = -1.0 / (DIMS as f64 + 4.0);
    let m = as_f64(m);
    let scott = 0.2 * as_f64(n.max(1)).powf(exponent) * m;
    scott.clamp(m / as_f64((n + 1).min(100)), m)
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
    fn the_bandwidth_follows_scotts_rule_within_its_clips() {
        // 0.2 * 16^(-1/8) * 100 = 20 * 2^(-1/2).
        assert!((bandwidth(100, 16) - 20.0 / 2f64.sqrt()).abs() < 1e-12);
        // One point: Scott's 0.6 is below the clip m / 2.
        assert!((bandwidth(3, 1) - 1.5).abs() < 1e-15);
        // Many points: Scott's 0.2 * 10^(-12/8) * 10 = 0.063 is below the clip m / 100.
        assert!((bandwidth(10, 1_000_000_000_000) - 0.1).abs() < 1e-15);
    }

    #[test]
    fn draws_from_a_mixture_concentrate_near_its_points() {
        let points = [[50, 0, 0, 0]];
        let parzen = Parzen::new(&points, [101, 1, 1, 1]);
        let mut rng = SplitMix64::new(7);
        let draws: Vec<u32> = (0..2000).map(|_| parzen.sample(&mut rng)[0]).collect();
        // Weight 1 on the point, 1 on the uniform prior. The point's kernel has bandwidth
        // 101 / 2 (one point: the clip) and is truncated to [-0.5, 100.5]: it puts
        // (2 Phi(20.5 / 50.5) - 1) / (2 Phi(1) - 1) = 0.3152 / 0.6827 = 0.4617 within 20 of 50,
        // the prior 41 / 101 = 0.4059; together 0.4338 of 2,000 draws, 868 +- 3 sd (22 each).
        let near = draws.iter().filter(|&&x| x.abs_diff(50) <= 20).count();
        assert!((802..934).contains(&near), "{near}");
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
