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

unset MLFLOW_TRACKING_URI
cargo build --release --locked -q -p momentum
bin="$(realpath "${CARGO_TARGET_DIR:-target}/release/momentum")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin" -q fetch >/dev/null
"$bin" -q features >/dev/null

grid=(--grid-lookback "$(seq -s, 5 5 250)" --grid-skip 0 --grid-holding "$(seq -s, 1 60)"
  --grid-top-k 3,5,7 --threads "$threads" --no-track)
split=(--validation split)
walk=(--validation walk-forward --start 1995-01-01 --wf-train-days 1260 --wf-test-days 252)
seconds() { # args...
  local start end
  start=$(date +%s.%N)
  "$bin" -q backtest "${grid[@]}" "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
: >split.txt
: >walk.txt
for ((i = 0; i < rounds; i++)); do
  if ((i % 2 == 0)); then
    seconds "${split[@]}" >>split.txt
    seconds "${walk[@]}" >>walk.txt
  else
    seconds "${walk[@]}" >>walk.txt
    seconds "${split[@]}" >>split.txt
  fi
done
s=$(median <split.txt)
w=$(median <walk.txt)
echo "split:        median ${s} s ($(tr '\n' ' ' <split.txt))"
echo "walk-forward: median ${w} s ($(tr '\n' ' ' <walk.txt))"
echo "ratio of the medians: $(awk -v a="$s" -v b="$w" 'BEGIN { printf "%.2f", b / a }')"
