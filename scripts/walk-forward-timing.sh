#!/usr/bin/env bash
# What a walk-forward costs next to the single split: the release binary runs, on the sample
# panel in a scratch directory and untracked, the 9,000-combination sample grid (lookback
# 5..250 step 5, skip 0, holding 1..60, top_k 3,5,7) as `momentum backtest --validation split`
# and as `--validation walk-forward --start 1995-01-01 --wf-train-days 1260 --wf-test-days 252`
# (5-year train and 1-year test folds from 1995; its own split included), ROUNDS times in
# alternating order, and prints each side's median wall time and the ratio of the medians.
#
# usage: scripts/walk-forward-timing.sh [-t THREADS] [-r ROUNDS]
#   CARGO_TARGET_DIR  where the release build goes (default target)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

threads=2 rounds=5
while getopts "t:r:h" opt; do
  case $opt in
    t) threads=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/sample-scratch.sh
. scripts/sample-scratch.sh
grid=("${sample_grid[@]}" --threads "$threads" --no-track)
split=(--validation split)
walk=(--validation walk-forward --start 1995-01-01 --wf-train-days 1260 --wf-test-days 252)
: >split.txt
: >walk.txt
for ((i = 0; i < rounds; i++)); do
  if ((i % 2 == 0)); then
    seconds "$bin" -q backtest "${grid[@]}" "${split[@]}" >>split.txt
    seconds "$bin" -q backtest "${grid[@]}" "${walk[@]}" >>walk.txt
  else
    seconds "$bin" -q backtest "${grid[@]}" "${walk[@]}" >>walk.txt
    seconds "$bin" -q backtest "${grid[@]}" "${split[@]}" >>split.txt
  fi
done
s=$(median <split.txt)
w=$(median <walk.txt)
echo "split:        median ${s} s ($(tr '\n' ' ' <split.txt))"
echo "walk-forward: median ${w} s ($(tr '\n' ' ' <walk.txt))"
echo "ratio of the medians: $(awk -v a="$s" -v b="$w" 'BEGIN { printf "%.2f", b / a }')"
