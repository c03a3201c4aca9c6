#!/usr/bin/env bash
# The whole `momentum backtest` at S&P 500 scale on one machine (issue #21, item 6): a
# deterministic synthetic universe (`benches/src/synthetic.rs`: 500 tickers x 6,300 trading days,
# 20 % listed late, 10 % delisted, 0.2 % of days missing) goes through `fetch --source csv` and
# `features`, then `backtest --no-track` with a 10,000-combination grid and the selection
# statistics (PSR, DSR, PBO over 16 CSCV blocks) runs RUNS times. Prints each run's wall time and
# peak RSS and their medians. Targets: under 30 s and under 2 GB.
#
# usage: scripts/scale-benchmark.sh [RUNS]         (default 3)
#   MOMENTUM_BIN           the binary to measure (default: cargo build --release)
#   SCALE_BENCH_VALIDATION the --validation kinds (default split; e.g. walk-forward,cpcv)
#   SCALE_BENCH_THREADS    --threads (default: every core)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${1:-3}
# shellcheck source=scripts/synthetic-scratch.sh
source scripts/synthetic-scratch.sh
synthetic_project 500 6300

threads=()
[[ -n ${SCALE_BENCH_THREADS:-} ]] && threads=(--threads "$SCALE_BENCH_THREADS")
printf 'universe: %s; grid: 10,000 combinations; validation: %s\n' \
  "$(head -1 prices.csv | tr ',' '\n' | tail -n +2 | wc -l) tickers x $(($(wc -l <prices.csv) - 1)) days" \
  "${SCALE_BENCH_VALIDATION:-split}"
times=()
peaks=()
for ((run = 1; run <= runs; run++)); do
  /usr/bin/time -f '%e %M' -o usage.txt "$bin" -q backtest --no-track \
    --validation "${SCALE_BENCH_VALIDATION:-split}" "${scale_grid[@]}" "${threads[@]}" >/dev/null
  read -r seconds kib <usage.txt
  times+=("$seconds")
  peaks+=("$kib")
  printf 'run %d: %6.2f s, peak RSS %7.1f MB\n' "$run" "$seconds" "$(echo "$kib * 1024 / 1000000" | bc -l)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf 'median: %.2f s, peak RSS %.1f MB (targets: 30 s, 2,000 MB)\n' "$(median "${times[@]}")" \
  "$(echo "$(median "${peaks[@]}") * 1024 / 1000000" | bc -l)"
