#!/usr/bin/env bash
# What sharding the grid costs and buys (issue #21), on the S&P 500-sized synthetic universe of
# scripts/scale-benchmark.sh (500 tickers x 6,300 days, the same 10,000-combination grid): the
# unsharded `momentum backtest --no-track --reproducible` and the same grid as N shards run one
# after the other (as N machines would run them at once) then merged, alternately, RUNS times.
# Prints the medians of: the unsharded run, the slowest shard (the wall time on N machines), all
# shards together (the total CPU cost), the merge, and the sharded run's files compared with the
# unsharded one's (they must be identical).
#
# usage: scripts/shard-benchmark.sh [N] [RUNS]      (default 4 shards, 3 runs)
#   MOMENTUM_BIN   the binary to measure (default: cargo build --release)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

shards=${1:-4}
runs=${2:-3}
# shellcheck source=scripts/synthetic-scratch.sh
source scripts/synthetic-scratch.sh
synthetic_project 500 6300

seconds() { # command...: its wall time
  /usr/bin/time -f '%e' -o elapsed.txt "$@" >/dev/null 2>&1
  cat elapsed.txt
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
whole=() slowest=() total=() merge=()
for ((run = 1; run <= runs; run++)); do
  whole+=("$(seconds "$bin" -q backtest --no-track --reproducible --reports whole \
    --model whole/candidate.json "${scale_grid[@]}")")
  rm -rf shards
  max=0 sum=0
  for ((i = 0; i < shards; i++)); do
    t=$(seconds "$bin" -q backtest --shard "$i/$shards" --shard-out shards "${scale_grid[@]}")
    sum=$(echo "$sum + $t" | bc -l)
    max=$(echo "if ($t > $max) $t else $max" | bc -l)
  done
  slowest+=("$max")
  total+=("$sum")
  merge+=("$(seconds "$bin" -q backtest --no-track --reproducible --merge shards --reports merged \
    --model merged/candidate.json "${scale_grid[@]}")")
  for file in metrics.json grid.csv trades.csv equity_curve.csv; do
    cmp -s "whole/$file" "merged/$file" || { echo "error: merged $file differs" >&2; exit 1; }
  done
  printf 'run %d: unsharded %.2f s; %d shards: slowest %.2f s, all %.2f s; merge %.2f s\n' \
    "$run" "${whole[-1]}" "$shards" "$max" "$sum" "${merge[-1]}"
done
w=$(median "${whole[@]}") s=$(median "${slowest[@]}") t=$(median "${total[@]}") m=$(median "${merge[@]}")
printf 'median: unsharded %.2f s; slowest shard %.2f s + merge %.2f s = %.2f s on %d machines (%.2fx); all shards %.2f s (%.2fx the unsharded CPU); files identical\n' \
  "$w" "$s" "$m" "$(echo "$s + $m" | bc -l)" "$shards" "$(echo "$w / ($s + $m)" | bc -l)" \
  "$t" "$(echo "$t / $w" | bc -l)"
