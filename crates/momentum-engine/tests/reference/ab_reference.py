#!/usr/bin/env python3
"""Independent reference numbers for `momentum_engine::compare` (issue #23).

Written from the formulas of Ledoit and Wolf (2008), "Robust performance hypothesis testing with
the Sharpe ratio", Journal of Empirical Finance 15(5), sections 3.1 and 3.2, and of Diebold and
Mariano (1995), with numpy matrix algebra: the full 4 x 4 Newey-West matrix Psi, the analytic
gradient of the Sharpe ratio difference, the circular block bootstrap done by indexing the
resampled series and the "natural" block covariance Psi* of its block means. The Rust code
instead reduces everything to scalar long-run variances of `grad . y_t` and to precomputed block
sums, so the two share formulas, not code.

Run: `/var/tmp/momentum-venv/bin/python3 crates/momentum-engine/tests/reference/ab_reference.py`
(python3 >= 3.8 with numpy). It prints the data and the numbers that
`crates/momentum-engine/tests/it/compare.rs` pins. The data come from SplitMix64 + Box-Muller
written out below, so they are the same on every machine and numpy version.

Convention: series 1 = champion, series 2 = challenger, delta = SR_challenger - SR_champion.
"""

import math

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    """The SplitMix64 output function (Steele, Lea and Flood 2014)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class SplitMix64:
    def __init__(self, state):
        self.state = state & MASK

    def next_u64(self):
        self.state = (self.state + GOLDEN) & MASK
        return mix(self.state)

    def below(self, n):
        """Uniform integer in [0, n): the high 64 bits of next_u64 * n."""
        return (self.next_u64() * n) >> 64

    def uniform_open(self):
        """Uniform in (0, 1): 53 random bits, shifted half a step off 0."""
        return ((self.next_u64() >> 11) + 0.5) / 2.0**53


def replication_rng(seed, m):
    """The engine's generator of bootstrap replication m: mix(seed) ^ mix(m + 1) as its state."""
    return SplitMix64(mix(seed & MASK) ^ mix((m + 1) & MASK))


def normals(rng, n):
    out = []
    while len(out) < n:
        u1, u2 = rng.uniform_open(), rng.uniform_open()
        radius = math.sqrt(-2.0 * math.log(u1))
        out += [radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)]
    return out[:n]


def sample_pair(T, seed=2023):
    """Two daily return series with a common factor, AR(1) noise (phi 0.4 and 0.2) and
    different means, rounded to 8 decimals so the Rust literals parse to the same doubles."""
    z = normals(SplitMix64(seed), 3 * T)
    e1 = e2 = 0.0
    champion, challenger = [], []
    for t in range(T):
        f, a, b = z[3 * t], z[3 * t + 1], z[3 * t + 2]
        e1 = 0.4 * e1 + a
        e2 = 0.2 * e2 + b
        champion.append(round(0.0003 + 0.006 * f + 0.008 * e1, 8))
        challenger.append(round(0.0009 + 0.006 * f + 0.010 * e2, 8))
    return np.array(champion), np.array(challenger)


def sharpe(r):
    """SR = mu / sqrt(E[r^2] - mu^2), moments divided by T as in the paper."""
    mu, gamma = r.mean(), (r * r).mean()
    return mu / math.sqrt(gamma - mu * mu)


def gradient(r1, r2):
    """d delta / d (mu1, mu2, gamma1, gamma2) for delta = f(v) = SR2 - SR1, with
    d/dmu [mu (gamma - mu^2)^(-1/2)] = gamma / (gamma - mu^2)^(3/2) and
    d/dgamma = -mu / (2 (gamma - mu^2)^(3/2))."""
    mu1, mu2 = r1.mean(), r2.mean()
    g1, g2 = (r1 * r1).mean(), (r2 * r2).mean()
    c1, c2 = (g1 - mu1**2) ** 1.5, (g2 - mu2**2) ** 1.5
    return np.array([-g1 / c1, g2 / c2, mu1 / (2 * c1), -mu2 / (2 * c2)])


def moments_matrix(r1, r2):
    """T x 4 rows x_t = (r1, r2, r1^2, r2^2)."""
    return np.column_stack([r1, r2, r1 * r1, r2 * r2])


def newey_west(y, lag):
    """Psi = G0 + sum_j (1 - j/(L+1)) (Gj + Gj'), Gj = (1/T) sum_{t>j} y_t y_{t-j}' of the
    (already demeaned) rows of y."""
    T = y.shape[0]
    psi = y.T @ y / T
    for j in range(1, lag + 1):
        gj = y[j:].T @ y[:-j] / T
        psi += (1 - j / (lag + 1)) * (gj + gj.T)
    return psi


def default_lag(T):
    return math.floor(4 * (T / 100) ** (2 / 9))


def two_sided_p(z):
    return math.erfc(abs(z) / math.sqrt(2))


def hac_test(r1, r2, lag):
    T = len(r1)
    x = moments_matrix(r1, r2)
    y = x - x.mean(axis=0)
    psi = newey_west(y, lag)
    g = gradient(r1, r2)
    se = math.sqrt(g @ psi @ g / T)
    delta = sharpe(r2) - sharpe(r1)
    z = delta / se
    return float(delta), se, float(z), two_sided_p(z)


def diebold_mariano(r1, r2, lag):
    d = r2 - r1
    T = len(d)
    lrv = newey_west((d - d.mean()).reshape(-1, 1), lag)[0, 0]
    stat = float(d.mean() / math.sqrt(lrv / T))
    return stat, two_sided_p(stat)


def bootstrap(r1, r2, block, reps, seed, lag):
    """Studentized circular block bootstrap, Ledoit and Wolf (2008) section 3.2 and Remark 3.2."""
    T = len(r1)
    blocks = T // block
    n = blocks * block
    delta, se, _, _ = hac_test(r1, r2, lag)
    observed = abs(delta) / se
    stats = []
    for m in range(reps):
        rng = replication_rng(seed, m)
        starts = [rng.below(T) for _ in range(blocks)]
        idx = np.array([(s + i) % T for s in starts for i in range(block)])
        b1, b2 = r1[idx], r2[idx]
        x = moments_matrix(b1, b2)
        y = x - x.mean(axis=0)
        zeta = math.sqrt(block) * y.reshape(blocks, block, 4).mean(axis=1)
        psi = zeta.T @ zeta / blocks
        g = gradient(b1, b2)
        se_star = math.sqrt(g @ psi @ g / n)
        stats.append(abs(sharpe(b2) - sharpe(b1) - delta) / se_star)
    stats = np.array(stats)
    p = (np.sum(stats >= observed) + 1) / (reps + 1)
    k = reps + 1 - (reps + 1) // 20
    critical = np.sort(stats)[k - 1]
    critical = float(critical)
    return delta - critical * se, delta + critical * se, float(p), critical


def rust_list(values):
    return ", ".join(repr(float(v)) for v in values)


def main():
    r1, r2 = sample_pair(120)
    print("// T = 120")
    print(f"const CHAMPION: [f64; 120] = [{rust_list(r1)}];")
    print(f"const CHALLENGER: [f64; 120] = [{rust_list(r2)}];")
    for name, r in (("champion", r1), ("challenger", r2)):
        print(f"{name}: mean {float(r.mean())!r} std {float(r.std())!r} sharpe {float(sharpe(r))!r}")
    L = default_lag(len(r1))
    print("default lag:", L)
    for lag in (0, L, 7):
        delta, se, z, p = hac_test(r1, r2, lag)
        print(f"hac lag {lag}: delta {delta!r} se {se!r} z {z!r} p {p!r}")
        stat, p = diebold_mariano(r1, r2, lag)
        print(f"dm lag {lag}: stat {stat!r} p {p!r}")
    for block, reps, seed in ((5, 199, 7), (4, 99, 12345)):
        lo, hi, p, crit = bootstrap(r1, r2, block, reps, seed, L)
        print(f"bootstrap block {block} reps {reps} seed {seed}: ci [{lo!r}, {hi!r}] p {p!r} critical {crit!r}")
    # A clearly better challenger: the same series plus 0.4 % a day (one IEEE addition, as in
    # the Rust test), so the p-values come from the normal's tail.
    shifted = r2 + 0.004
    delta, se, z, p = hac_test(r1, shifted, L)
    print(f"shifted hac lag {L}: delta {delta!r} se {se!r} z {z!r} p {p!r}")
    stat, p = diebold_mariano(r1, shifted, L)
    print(f"shifted dm lag {L}: stat {stat!r} p {p!r}")
    lo, hi, p, crit = bootstrap(r1, shifted, 5, 199, 7, L)
    print(f"shifted bootstrap block 5 reps 199 seed 7: ci [{lo!r}, {hi!r}] p {p!r} critical {crit!r}")
    # The hand-computed example of the tests, as a cross-check of the arithmetic there.
    h1, h2 = np.array([0.01, -0.01, 0.01, -0.01]), np.array([0.03, -0.01, 0.01, 0.01])
    for lag in (0, 1):
        print(f"hand lag {lag}: hac {hac_test(h1, h2, lag)!r} dm {diebold_mariano(h1, h2, lag)!r}")


if __name__ == "__main__":
    main()
