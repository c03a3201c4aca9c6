#!/usr/bin/env python3
"""Optuna's TPE on the objective `momentum backtest --search tpe` maximises, for issue #25's
comparison (`scripts/bench-vs-optuna.sh` runs it beside the `search_quality` example).

The objective is the train Sharpe ratio of one combination on the sample's train window,
computed by the numba peer of the engine's kernel (`numba_grid.py`: its rank table and its
simulation, which reproduce the engine's metrics), JIT-compiled before any timing. The spaces
are the example's:
- `sample`: lookback 5:250:5, skip 0, holding 1:60, top_k 3:7:2 (the 9,000-combination grid);
- `wide`: lookback 2:500, skip 0:60, holding 1:120, top_k 1:20 (the `backtest.search` defaults).
Skip is drawn from 0 to min(60, lookback - 1): Optuna's define-by-run way to keep
skip < lookback, as the engine never proposes skip >= lookback.

For each space, sampler and seed it runs one study of the largest budget (`n_jobs=1`: the only
reproducible setting) and reads each smaller budget off its first trials, as the engine's side
does: a study's first N trials do not depend on its length. The samplers are Optuna's default
`TPESampler(seed=...)` (independent per parameter) and `TPESampler(multivariate=True, ...)`,
the engine's kind. Prints `SIDE,SPACE,SEED,TRIALS,BEST_SHARPE,SECONDS` per line (SECONDS: from
the study's start to the end of trial TRIALS, proposals included).

Usage: optuna_search.py PANEL_CSV TRAIN_END [--seeds 10] [--budgets 100 300 1000]
"""

import argparse
import math
import time

import numpy as np
import optuna

from numba_grid import N_METRICS, load_panel, rank_table, simulate

SPACES = {
    "sample": {"lookback": (5, 250, 5), "skip": (0, 0, 1), "holding": (1, 60, 1),
               "top_k": (3, 7, 2)},
    "wide": {"lookback": (2, 500, 1), "skip": (0, 60, 1), "holding": (1, 120, 1),
             "top_k": (1, 20, 1)},
}


def train_sharpe(close, carried, lookback, skip, holding, top_k):
    """The annualised Sharpe ratio of one combination at 10 bps on [0, len(close) - 1]."""
    ranks = np.empty(close.shape, dtype=np.int32)
    counts = np.zeros(close.shape[0], dtype=np.int32)
    rank_table(close, lookback, skip, lookback, ranks, counts)
    out = np.zeros(N_METRICS)
    sums = np.zeros((1, 2))
    held = np.empty(top_k, dtype=np.int64)
    units = np.empty(top_k)
    pre = np.zeros(close.shape[1])
    simulate(close, carried, ranks, counts, lookback, close.shape[0] - 1, holding, top_k,
             10.0, out, 0, 0, 0, sums, held, units, pre)
    return out[3]


def study(close, carried, space, sampler, trials):
    """One study of `trials` trials; per trial the best value so far and the seconds since the
    study started."""
    def objective(trial):
        lo, hi, step = space["lookback"]
        lookback = trial.suggest_int("lookback", lo, hi, step=step)
        lo, hi, step = space["skip"]
        hi = min(hi, lo + (lookback - 1 - lo) // step * step)
        skip = trial.suggest_int("skip", lo, hi, step=step)
        lo, hi, step = space["holding"]
        holding = trial.suggest_int("holding", lo, hi, step=step)
        lo, hi, step = space["top_k"]
        top_k = trial.suggest_int("top_k", lo, hi, step=step)
        return train_sharpe(close, carried, lookback, skip, holding, top_k)

    history = []
    best = -math.inf
    started = time.perf_counter()

    def record(_study, trial):
        nonlocal best
        best = max(best, trial.value)
        history.append((best, time.perf_counter() - started))

    runner = optuna.create_study(direction="maximize", sampler=sampler)
    runner.optimize(objective, n_trials=trials, n_jobs=1, callbacks=[record])
    return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("panel_csv")
    parser.add_argument("train_end", type=int)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 300, 1000])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    full, carried_full = load_panel(args.panel_csv)
    close = np.ascontiguousarray(full[: args.train_end + 1])
    carried = np.ascontiguousarray(carried_full[: args.train_end + 1])
    # JIT compilation, and the objective checked against the engine's grid best.
    print(f"numba check: lookback 15 skip 0 holding 50 top_k 3 train sharpe "
          f"{train_sharpe(close, carried, 15, 0, 50, 3):.6f} (optuna {optuna.__version__})")
    budgets = sorted(args.budgets)
    print("side,space,seed,trials,best_sharpe,seconds")
    for name, space in SPACES.items():
        for side, multivariate in [("optuna", False), ("optuna-multivariate", True)]:
            for seed in range(args.seeds):
                sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
                history = study(close, carried, space, sampler, budgets[-1])
                for trials in budgets:
                    best, seconds = history[trials - 1]
                    print(f"{side},{name},{seed},{trials},{best:.6f},{seconds:.4f}", flush=True)


if __name__ == "__main__":
    main()
