#!/usr/bin/env python3
"""A numba peer of the engine's grid kernel (`momentum_engine::run_grid`), for issue #24's
"kernel >= 10x numba" comparison (`scripts/bench-vs-numba.sh` runs it against the
`grid_timing` example, alternately).

Written from `strategy-spec.md` (v1) and `docs/strategy.md`, the way a good numba user would
write it, not translated from the Rust:
- one rank table per (lookback, skip): for every day, the eligible tickers (the three closes
  P[t], P[t-S], P[t-L] finite and > 0) by score `P[t-S] / P[t-L] - 1` descending, equal scores
  to the lower index; every holding period and top_k of the group reads its first K entries;
- per combination and window a day loop that keeps the held tickers and their units (K
  multiply-adds a day for the value, prices carried over missing days), rebalances every H days
  from t0 = max(window start, L) while t < end (turnover against the drifted weights, cost on
  it, entries plus exits counted), and folds every metric into the same loop: sums of r, r^2
  and min(r, 0)^2, the running peak and drawdown, trades and turnover; plus, on the train
  window, the CSCV block sums of r and r^2 that run_grid also keeps;
- `@njit(parallel=True)` with `prange` over the (lookback, skip) groups, each group ranking its
  table and running all its holding periods x top_k on the train and the test window.

The work is run_grid's: nine metrics on train and test for every combination plus the CSCV
block sums; not the selection, PSR/DSR or PBO (grid_search does those after run_grid).

Usage: numba_grid.py PANEL_CSV TRAIN_END [--threads 2] [--reps 3]
PANEL_CSV is the wide panel `grid_timing ... PANEL_CSV` writes (the very prices it times);
train is [0, TRAIN_END], test [TRAIN_END + 1, T - 1]. The grid is the issue's sample grid
(lookback 5..=250 step 5, skip 0, holding 1..=60, top_k 3, 5, 7, 10 bps, 16 CSCV blocks).
Prints the first call's time (JIT compilation plus one run), the best of REPS timed calls after
it, and the mean over the grid of the final train value (total_roi + 1) in round-trip digits.
"""

import argparse
import math
import time

import numba
import numpy as np
from numba import njit, prange

N_METRICS = 9  # total_roi cagr volatility sharpe sortino max_drawdown calmar num_trades turnover


def load_panel(path):
    """The close panel (days x tickers, NaN where missing) and the carried panel."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split(",")
        rows = [line.rstrip("\n").split(",")[1:] for line in f]
    close = np.array(rows, dtype=np.float64)
    assert close.shape[1] == len(header) - 1
    close[~np.isfinite(close)] = np.nan
    carried = close.copy()
    for t in range(1, carried.shape[0]):
        missing = np.isnan(carried[t])
        carried[t, missing] = carried[t - 1, missing]
    return np.ascontiguousarray(close), np.ascontiguousarray(carried)


@njit(error_model="numpy", inline="always")
def usable(p):
    return np.isfinite(p) and p > 0.0


@njit(error_model="numpy")
def rank_table(close, lookback, skip, first, ranks, counts):
    """ranks[t, :counts[t]]: the eligible tickers of day t (t >= first), best score first."""
    n = close.shape[1]
    scores = np.empty(n)
    for t in range(first, close.shape[0]):
        c = 0
        for i in range(n):
            now, near, far = close[t, i], close[t - skip, i], close[t - lookback, i]
            if usable(now) and usable(near) and usable(far):
                m = near / far - 1.0
                # Insertion after every equal score: ties keep the lower index first.
                j = c
                while j > 0 and scores[j - 1] < m:
                    scores[j] = scores[j - 1]
                    ranks[t, j] = ranks[t, j - 1]
                    j -= 1
                scores[j] = m
                ranks[t, j] = i
                c += 1
        counts[t] = c


@njit(error_model="numpy")
def simulate(close, carried, ranks, counts, t0, end, holding, top_k, cost,
             out, block_first, block_len, blocks, sums, held, units, pre):
    """One combination on [t0, end]: writes the nine metrics to `out`, and when `blocks` > 0
    adds each return of day u >= block_first to sums[(u - block_first) // block_len]."""
    value = 1.0
    peak = 0.0  # the curve starts at t0's post-trade value
    floor = 0.0  # values below peak * (1 - mdd) set a new maximum drawdown
    mdd = 0.0
    s1 = 0.0
    s2 = 0.0
    sd = 0.0
    trades = 0
    turnover_sum = 0.0
    n_held = 0
    rate = cost / 1e4
    next_rebalance = t0
    block = 0
    in_block = 0
    previous = 1.0  # the curve's value the day before
    for t in range(t0, end + 1):
        if n_held > 0:
            value = 0.0
            for k in range(n_held):
                value += units[k] * carried[t, held[k]]
        if t == next_rebalance and t < end:
            next_rebalance += holding
            k_sel = min(top_k, counts[t])
            target = 1.0 / k_sel if k_sel > 0 else 0.0
            # Drifted weights of the held tickers, by ticker.
            for k in range(n_held):
                pre[held[k]] = units[k] * carried[t, held[k]] / value
            turnover = 0.0
            for k in range(k_sel):
                i = ranks[t, k]
                w = pre[i]
                if w == 0.0:
                    trades += 1  # an entry
                turnover += abs(target - w)
                pre[i] = -1.0  # marks "selected": settled
            for k in range(n_held):
                i = held[k]
                w = pre[i]
                if w != -1.0:
                    if w != 0.0:
                        trades += 1  # an exit
                    turnover += abs(w)
                pre[i] = 0.0
            for k in range(k_sel):
                pre[ranks[t, k]] = 0.0
            turnover_sum += turnover
            value = value * (1.0 - rate * turnover)
            for k in range(k_sel):
                i = ranks[t, k]
                held[k] = i
                units[k] = target * value / close[t, i]
            n_held = k_sel
        if t > t0:
            # The day's return, from the post-trade value on a rebalance day.
            r = value / previous - 1.0
            s1 += r
            s2 += r * r
            if r < 0.0:
                sd += r * r
            if blocks > 0 and t >= block_first:
                sums[block, 0] += r
                sums[block, 1] += r * r
                in_block += 1
                if in_block == block_len:
                    block += 1
                    in_block = 0
        previous = value
        # Drawdown without a division a day: only a value below the record's level is divided.
        if value > peak:
            peak = value
            floor = peak * (1.0 - mdd)
        elif value < floor:
            mdd = max(mdd, 1.0 - value / peak)
            floor = peak * (1.0 - mdd)
    n = end - t0
    years = n / 252.0
    total_roi = value - 1.0
    cagr = value ** (1.0 / years) - 1.0 if value > 0.0 else -1.0
    volatility = 0.0
    sharpe = 0.0
    mean = s1 / n
    if n >= 2:
        var = (s2 - s1 * mean) / (n - 1)
        std = math.sqrt(var) if var > 0.0 else 0.0
        volatility = std * math.sqrt(252.0)
        if std > 0.0:
            sharpe = mean / std * math.sqrt(252.0)
    down = math.sqrt(sd / n)
    sortino = mean / down * math.sqrt(252.0) if down > 0.0 else 0.0
    calmar = cagr / mdd if mdd > 0.0 else 0.0
    out[0] = total_roi
    out[1] = cagr
    out[2] = volatility
    out[3] = sharpe
    out[4] = sortino
    out[5] = mdd
    out[6] = calmar
    out[7] = trades
    out[8] = turnover_sum / years


@njit(parallel=True, error_model="numpy")
def grid(close, carried, lookbacks, skips, holdings, top_ks, cost,
         train_start, train_end, test_start, test_end, blocks):
    """Every combination (lookback, skip, holding, top_k in that nesting order) on the train
    and the test window: metrics[c, 0 or 1, :] and the train CSCV block sums[c, b, :]."""
    n_days, n = close.shape
    n_groups = lookbacks.size * skips.size
    per_group = holdings.size * top_ks.size
    metrics = np.zeros((n_groups * per_group, 2, N_METRICS))
    sums = np.zeros((n_groups * per_group, max(blocks, 1), 2))
    # CSCV: the train days every combination has a return on, cut into equal blocks, the
    # earliest left over.
    max_t0 = max(train_start, lookbacks.max())
    common = train_end - max_t0
    block_len = common // blocks if blocks > 0 else 0
    use_blocks = blocks if block_len > 0 else 0
    block_first = train_end - use_blocks * block_len + 1
    kmax = top_ks.max()
    for g in prange(n_groups):
        lookback = lookbacks[g // skips.size]
        skip = skips[g % skips.size]
        if skip >= lookback:
            continue  # left out, as run_grid drops them (rows stay zero here)
        ranks = np.empty((n_days, n), dtype=np.int32)
        counts = np.zeros(n_days, dtype=np.int32)
        first = max(min(train_start, test_start), lookback)
        rank_table(close, lookback, skip, first, ranks, counts)
        held = np.empty(kmax, dtype=np.int64)
        units = np.empty(kmax)
        pre = np.zeros(n)
        for h in range(holdings.size):
            for k in range(top_ks.size):
                c = g * per_group + h * top_ks.size + k
                simulate(close, carried, ranks, counts, max(train_start, lookback), train_end,
                         holdings[h], top_ks[k], cost, metrics[c, 0], block_first, block_len,
                         use_blocks, sums[c], held, units, pre)
                simulate(close, carried, ranks, counts, max(test_start, lookback), test_end,
                         holdings[h], top_ks[k], cost, metrics[c, 1], block_first, block_len,
                         0, sums[c], held, units, pre)
    return metrics, sums


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("panel_csv")
    parser.add_argument("train_end", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    close, carried = load_panel(args.panel_csv)
    n_days = close.shape[0]
    lookbacks = np.arange(5, 251, 5, dtype=np.int64)
    skips = np.array([0], dtype=np.int64)
    holdings = np.arange(1, 61, dtype=np.int64)
    top_ks = np.array([3, 5, 7], dtype=np.int64)
    call = (close, carried, lookbacks, skips, holdings, top_ks, 10.0,
            0, args.train_end, args.train_end + 1, n_days - 1, 16)
    start = time.perf_counter()
    metrics, _ = grid(*call)
    first = time.perf_counter() - start
    times = []
    for _ in range(max(args.reps, 1)):
        start = time.perf_counter()
        metrics, _ = grid(*call)
        times.append(time.perf_counter() - start)
    combos = metrics.shape[0]
    mean = math.fsum(metrics[:, 0, 0] + 1.0) / combos
    print(f"{combos} combinations, {n_days} days x {close.shape[1]} tickers, "
          f"{numba.get_num_threads()} threads: first call (JIT compile + one run) {first:.3f} s, "
          f"best of {len(times)} {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"(numba {numba.__version__})")
    print(f"mean final value (train) {mean!r} over {combos} combinations")


if __name__ == "__main__":
    main()
